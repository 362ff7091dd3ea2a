"""Check each seeded question's summary against the answer the seed data computes.

The seed is loaded into a throwaway SQLite database and every answer is computed by the same
engine the pages use; a summary that says an option the answer does not hold, or denies one
it holds, is refused.
"""

import tempfile
from pathlib import Path

from sqlmodel import Session, SQLModel, create_engine, select

import app.models  # noqa: F401  (declares every table)
from app.questions import service
from app.questions.models import Question
from app.seed.service import seed
from app.status import snapshot


def summary_problems(seed_dir: Path) -> dict[str, str]:
    """Return, per question slug, why its summary contradicts its computed answer."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'check.db'}")
        try:
            SQLModel.metadata.create_all(engine)
            with Session(engine) as session:
                seed(session, seed_dir)
                snap = snapshot.load(session)
                found = {}
                for question in session.exec(select(Question)).all():
                    problem = service.summary_problem(session, snap, question, cache=False)
                    if problem:
                        found[question.slug] = problem
                return found
        finally:
            engine.dispose()
