"""The `class` part (`scripts/bench --class`, needs Docker): a whole class `get`s one file at
once over labnet; classload.py measures it, this hands its figures to the report."""

from __future__ import annotations

from . import classload
from .core import Section, Settings, Target


def measure(settings: Settings) -> list[Section]:
    quick = settings.quick
    class_settings = classload.ClassSettings(
        students=3 if quick else 30, size_mib=8 if quick else 100, rounds=1 if quick else settings.runs
    )
    figures = classload.measure_class(class_settings, settings.progress)
    rows = [(label, classload.spread(values), unit) for label, values, unit, _ in figures.rows()]
    return [
        Section(
            title=figures.title,
            intro=figures.intro(),
            header=["measure", "min / **median** / max", "unit"],
            rows=rows,
            targets=[Target(*target) for target in figures.targets()],
        )
    ]
