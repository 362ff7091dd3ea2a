"""Sources: the articles, papers and posts that claims and evidence cite."""
