"""Fixtures of the cluster fault tests: a private two-instance deployment per test, with observers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import pytest

from .harness import Cluster, ClusterFactory, Observers


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[ClusterFactory]:
    """Starts a two-instance deployment (throwaway PostgreSQL, Redis, Mosquitto); stopped afterwards."""
    clusters: list[Cluster] = []

    def make(env: Mapping[str, str] | None = None) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster-{len(clusters)}", env=env)
        clusters.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()


@pytest.fixture
async def observe() -> AsyncIterator[Callable[[Cluster], Observers]]:
    started: list[Observers] = []

    def make(cluster: Cluster) -> Observers:
        observers = Observers(cluster)
        started.append(observers)
        return observers

    yield make
    for observers in started:
        await observers.stop()
