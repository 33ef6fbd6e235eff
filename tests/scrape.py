"""Reading a /metrics page as Prometheus would: parsed with prometheus_client's own parser;
and a free port to serve one on."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx2
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    """Every sample of one scrape, by name and labels."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    families: dict[str, str]  # name -> type (counter, gauge, histogram, info...)

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        families: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(samples, families)

    @classmethod
    def get(cls, url: str) -> Scrape:
        """GET `url` (a /metrics page): 200 in Prometheus' text format, parsed."""
        response = httpx2.get(url, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return cls.parse(response.text)

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; KeyError naming what exists when it is absent."""
        key = (name, frozenset(labels.items()))
        if key not in self.samples:
            known = sorted(str(dict(k[1])) for k in self.samples if k[0] == name)
            raise KeyError(f"no {name}{labels}; present: {known}")
        return self.samples[key]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
