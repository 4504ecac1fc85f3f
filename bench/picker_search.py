"""Search-as-you-type pickers at scale (issue 14): how long one keystroke's search and a typed name's resolution
take with 10,000 bars and 60,000 users (one bar membership each), median of 15 calls, each with a freshly read
requester (its role queries included).

    .venv/bin/python bench/picker_search.py

Uses its own database `bench_picker` on the local cluster (``BARTENDER_PG_PORT``; created and migrated on first
use; ``DATABASE_URL`` picks another), seeds it once (10,000 bars, 60,000 users) when it holds fewer than 10,000
bars, and prints only its figures.
"""

import contextlib
import os
import statistics
import time

import django
from benchdb import use_bench_database  # noqa: E402

use_bench_database("bench_picker")  # its own database on the local cluster, created on first use
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
django.setup()
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)

call_command("standin", "--phase2", verbosity=0)  # the stand-in BarTender, after Phase 2

from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from guardian.shortcuts import assign_perm  # noqa: E402

from adminpanel.models import Bar, User  # noqa: E402
from adminpanel.permissions import MANAGE_BAR_MAPPINGS  # noqa: E402
from adminpanel.pickers import NameProblem, resolve_bar, resolve_user, search_bars, search_users  # noqa: E402

SEED = """
INSERT INTO bars (id, name, settings, is_internal, created_at)
SELECT gen_random_uuid(), (ARRAY['Maquis','Chez','Café','Bar','Le Relais'])[1 + g % 5] || ' '
       || (ARRAY['Baobab','Étoile','Fatou','Lagune','Plateau','Cocody','Yopougon'])[1 + (g / 5) % 7] || ' ' || g,
       '{}', false, now()
FROM generate_series(1, 10000) g;
INSERT INTO auth.users (id, email, raw_user_meta_data, created_at)
SELECT gen_random_uuid(), 'user' || g || '@bench.invalid',
       jsonb_build_object('username', 'user' || g, 'full_name',
         (ARRAY['Aïcha','Awa','Zoé','Moussa','Koffi','Mariam','Éric','Fatou'])[1 + g % 8] || ' '
         || (ARRAY['Koné','Traoré','Diallo','Kouassi','Yao','Bamba'])[1 + (g / 8) % 6] || ' ' || g), now()
FROM generate_series(1, 60000) g;
INSERT INTO bar_members (bar_id, user_id, role, is_active, created_at)
SELECT b.id, u.id, 'server', true, now()
FROM (SELECT id, row_number() OVER (ORDER BY email) AS n FROM auth.users) u
JOIN (SELECT id, row_number() OVER (ORDER BY name) AS n FROM bars) b ON b.n = 1 + (u.n % 10000);
ANALYZE bars; ANALYZE auth.users; ANALYZE bar_members;
"""


def main():
    if Bar.objects.count() < 10_000:
        with connection.cursor() as cursor:
            cursor.execute(SEED)
    support, _ = User.objects.get_or_create(username="bench_support", defaults={"display_name": "Bench Support"})
    support.groups.add(Group.objects.get_or_create(name="support")[0])
    manager, _ = User.objects.get_or_create(username="bench_manager", defaults={"display_name": "Bench Manager"})
    bars = list(Bar.objects.order_by("name")[:3])
    for bar in bars:
        assign_perm(MANAGE_BAR_MAPPINGS, manager, bar)
    someone = User.objects.filter(username="user777").first()

    def fresh(user):
        return User.objects.get(pk=user.pk)

    def unknown_name():
        with contextlib.suppress(NameProblem):
            resolve_user(fresh(support), "Nobody Here")

    def translate_reference(query):
        """The first version's matching (translate() of every row, then lower()), kept as the reference."""
        from django.db.models import F, Func, Q, Value
        from django.db.models.functions import Lower

        from adminpanel.pickers import _ACCENTED, _PLAIN, fold, users_visible_to

        def folded(field):
            return Lower(Func(F(field), Value(_ACCENTED), Value(_PLAIN), function="translate"))

        key = fold(query)
        users = users_visible_to(fresh(support)).annotate(n=folded("display_name"), u=folded("username"))
        return list(users.filter(Q(n__contains=key) | Q(u__contains=key)).order_by("display_name")[:21])

    cases = [
        ("reference: users, support, 'kone', translate()", lambda: translate_reference("kone")),
        ("bars, support, 'etoile'", lambda: search_bars(fresh(support), "etoile")),
        ("users, support, 'kone'", lambda: search_users(fresh(support), "kone")),
        ("users, support, 'zoé koua'", lambda: search_users(fresh(support), "zoé koua")),
        ("users, manager of 3 bars, 'a'", lambda: search_users(fresh(manager), "a")),
        ("users of one bar, support, 'a'", lambda: search_users(fresh(support), "a", bar=bars[0])),
        ("resolve a bar by its exact name", lambda: resolve_bar(fresh(support), bars[1].name)),
        ("resolve a user by display name", lambda: resolve_user(fresh(support), someone.display_name)),
        ("resolve an unknown name (with suggestions)", unknown_name),
    ]
    for label, call in cases:
        runs = []
        for _ in range(15):
            start = time.perf_counter()
            call()
            runs.append((time.perf_counter() - start) * 1000)
        print(f"{label:50s} median {statistics.median(runs):6.1f} ms   max {max(runs):6.1f} ms")


if __name__ == "__main__":
    main()
