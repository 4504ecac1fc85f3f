"""Set-up shared by the shell benches of the flag API (bench/flag_api_wrk.sh, bench/serve_compare.sh,
bench/flag_api_propagation.py): the rollout bench database with N bars (created, migrated and seeded if missing,
even on a fresh clone), a fresh fleet-wide API token, and one bar.

    .venv/bin/python bench/flag_api_setup.py NAME [BARS]

Prints exactly one line on stdout, `DATABASE_URL TOKEN BAR_ID`; any note (seeding) goes to stderr.
"""

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent)]
from rollout_bench_db import use_bench_database  # noqa: E402


def main() -> None:
    name = sys.argv[1]
    bars = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    url = use_bench_database(bars=bars)
    from adminpanel.models import ApiClient, Bar
    from rollout.models import ensure_default_flags

    ensure_default_flags()
    ApiClient.objects.filter(name=name).delete()
    client = ApiClient(name=name, all_bars=True)
    raw = client.issue_token()
    client.save()
    print(url, raw, Bar.objects.order_by("pk").values_list("pk", flat=True).first())


if __name__ == "__main__":
    main()
