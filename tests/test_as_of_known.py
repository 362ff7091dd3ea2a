"""The as-of view's batch filters keep exactly the rows the one-row rules keep."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from app.claims.models import Claim
from app.core.schema import DatePrecision
from app.evidence.models import Evidence
from app.status import asof

DAYS = st.dates(min_value=dt.date(2018, 1, 1), max_value=dt.date(2027, 12, 31))
DATED = st.tuples(DAYS, st.sampled_from([p.value for p in DatePrecision]))


@given(st.lists(DATED, max_size=30), DAYS)
def test_batch_filters_agree_with_the_one_row_rules(dated: list, day: dt.date) -> None:
    claims = [Claim(id=n, stated_on=d, date_precision=p) for n, (d, p) in enumerate(dated)]
    items = [Evidence(id=n, date=d, date_precision=p) for n, (d, p) in enumerate(dated)]
    assert asof.claims_known(claims, day) == [c for c in claims if asof.claim_known(c, day)]
    assert asof.evidence_known_by(items, day) == [e for e in items if asof.evidence_known(e, day)]
