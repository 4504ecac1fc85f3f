import uuid

from django.db import connection

from adminpanel.models import Bar
from rollout.stages.cohorts import bar_bucket, bucket_sql, in_cohort
from tests.factories import BarFactory


def test_a_bars_bucket_is_a_stable_hash_of_its_id():
    bar_id = uuid.UUID("6f1c2a9e-0000-4000-8000-000000000000")
    assert bar_bucket(bar_id) == 42
    assert bar_bucket(str(bar_id)) == 42


def test_sql_and_python_compute_the_same_bucket(db):
    bars = BarFactory.create_batch(100)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {bucket_sql()} FROM bars")
        sql_buckets = dict(cursor.fetchall())
    assert {bar.pk: bar_bucket(bar.pk) for bar in bars} == sql_buckets


def test_the_half_cohort_holds_fifty_percent_of_ten_thousand_bars_give_or_take_five(db):
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"bar-{i}") for i in range(10_000)]
    Bar.objects.bulk_create([Bar(id=bar_id, name=f"Bar {i}") for i, bar_id in enumerate(ids)], batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FILTER (WHERE {bucket_sql()} < 50), count(*) FROM bars")
        half, total = cursor.fetchone()
    assert total == 10_000
    assert 4_500 <= half <= 5_500
    # The same bars land in the same cohort however often it is computed.
    assert sum(bar_bucket(bar_id) < 50 for bar_id in ids) == half


def test_internal_bars_make_stage_4a_and_every_bar_is_in_4c(db):
    internal = BarFactory(is_internal=True)
    public = BarFactory()
    assert in_cohort("4a", internal) and not in_cohort("4a", public)
    assert in_cohort("4c", internal) and in_cohort("4c", public)
    assert not in_cohort("off", internal)
