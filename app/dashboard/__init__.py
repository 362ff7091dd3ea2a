"""Server-rendered dashboard: Jinja2 pages enhanced with htmx, plus feeds and exports."""
