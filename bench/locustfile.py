"""The public pages under load (Locust): home, search, item, collection and the API list.

    locust -f bench/locustfile.py --headless -u 20 -r 20 -t 60s --host http://127.0.0.1:8123 --csv out/portal

against a portal seeded by bench/seed_portal.py (loopback only; bench/portal_load.sh runs it, figures in
BENCHMARKS.md). Each simulated visitor asks for one page after another without pauses.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, constant, task

ITEMS = int(os.environ.get("BENCH_ITEMS", "10000"))
FIRST_ID = int(os.environ.get("BENCH_FIRST_ID", "1"))  # a fresh database numbers the seeded items from 1


class Visitor(FastHttpUser):  # geventhttpclient: the load generator takes less of the CPU it shares
    wait_time = constant(0)

    @task(3)
    def home(self) -> None:
        self.client.get("/", name="home")

    @task(3)
    def search(self) -> None:
        words = random.choice(["harbour", "dock", "scene 12", "ships", ""])
        self.client.get(f"/search/?q={words}&page={random.randint(1, 5)}", name="search")

    @task(3)
    def item(self) -> None:
        self.client.get(f"/items/{FIRST_ID + random.randrange(ITEMS)}/", name="item")

    @task(2)
    def collection(self) -> None:
        self.client.get(f"/collections/collection-{random.randrange(20)}/?page={random.randint(1, 20)}",
                        name="collection")  # fmt: skip

    @task(2)
    def api_list(self) -> None:
        self.client.get(f"/api/items/?page={random.randint(1, 200)}", name="/api/items/")
