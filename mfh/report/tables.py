"""Tables from result records: mean ± standard error over seeds, in Markdown, CSV and LaTeX.

A table has one row per configuration label and one column per dataset. A cell aggregates
the `metrics.test_error` (percent) of the `ok` records of that label and dataset (a pandas
DataFrame grouped by label and dataset): mean, standard error (sample standard deviation with
ddof=1, divided by sqrt(n)) and n. With n = 1 there is no
standard error: the cell shows "mean (1)" and the CSV's `se` is empty. Failed records carry no
value; they are counted and listed under the table. An `ok` run whose training health is not
`ok` (`mfh.harness.health`: it never trained, sat at chance loss first, or diverged) is averaged
in, but its cell is marked † and the note under the table names it.

Inside one table a label names exactly one configuration. Within a column, every record of a
label must have the same signature (the full configuration minus the seed and the keys that do
not change a result); across columns, the configuration minus `dataset` must agree, so the
`data_seed` too. Otherwise `LabelCollision` names the label and what differs.

Two kinds of table:
- the generic table (`generic_table`): every record given, rows ordered dense, the baselines,
  HashedNets, then MFH labels by U, G, and -D last (`label_order`);
- the layout table (`layout_table`): rows from a layout file such as `experiments/table1.yaml`;
  each row's records are those of its composed configuration, so one configuration listed in
  several rows is one set of records and shows one value.

The best (lowest) mean per column, compared as displayed (2 decimals), is bold; ties are all bold.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import yaml

from mfh.harness.config import compose_config, validate
from mfh.harness.families import family_of
from mfh.harness.health import health_status
from mfh.harness.recipes import recipe_path
from mfh.harness.records import records_at
from mfh.harness.signature import effective_config, signature
from mfh.harness.tuning import Tuning
from mfh.method.specs import BASELINE_LABELS, parse_label
from mfh.report.claims import Claim, errors_by_seed, parse_claims
from mfh.report.stats import Paired, holm, paired

Key = tuple[str, str]  # (row label, dataset)
Entry = tuple[str, str, dict]  # (row label, dataset, record or config)

REQUIRED_LAYOUT_KEYS = ("caption", "seeds", "datasets", "common", "rows")


class LabelCollision(ValueError):
    """One label names two different configurations inside one table."""


class LayoutError(ValueError):
    """A layout file that cannot be read as a table layout."""


class NoRecords(LookupError):
    """A table would hold no value at all."""


@dataclass(frozen=True)
class Cell:
    """Test error (%) of one (label, dataset): mean, standard error (None when n = 1), n."""

    mean: float
    se: float | None
    n: int
    unhealthy: tuple[str, ...] = ()   # health status of each averaged run that is not ok


@dataclass(frozen=True)
class Row:
    """One table row: the label keys its cells; `id`, `text` and `reference` (the label it is
    compared with, paired by seed) come from a layout."""

    label: str
    id: str = ""
    text: str = ""
    reference: str = ""


@dataclass(frozen=True)
class PairedCell:
    """A row's paired difference to its reference in one column (`result`: row - reference,
    in test-error points) and its t-test p Holm-adjusted over the column."""

    reference: str
    result: Paired
    p_holm: float


@dataclass
class Table:
    """Rows, dataset columns, cells keyed (label, dataset), counts of skipped failed runs and
    the record files left out because they could not be read."""

    rows: list[Row]
    datasets: list[str]
    cells: dict[Key, Cell]
    failed: dict[Key, int] = field(default_factory=dict)
    caption: str = ""
    unreadable: tuple[str, ...] = ()
    paired: dict[tuple[str, str], PairedCell] = field(default_factory=dict)  # (row id, dataset)


@dataclass(frozen=True)
class LayoutRow:
    """One row of a layout file: its id, e.g. "(1.3)", a short text, its Hydra overrides,
    the columns it runs on (`datasets`; empty: every column) and its seeds (`seeds`; empty:
    the layout's; e.g. more for a claim's primary rows)."""

    id: str
    text: str
    overrides: tuple[str, ...]
    reference: str = ""
    datasets: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Layout:
    """A table layout: caption template, seeds, dataset columns, common overrides, rows and
    (optionally) the claims its rows test (`mfh.report.claims`)."""

    name: str
    caption: str
    seeds: tuple[int, ...]
    datasets: tuple[str, ...]
    common: tuple[str, ...]
    rows: tuple[LayoutRow, ...]
    claims: tuple[Claim, ...] = ()
    recipe: str = ""                    # e.g. "{dataset}_{model}": +recipe=<that> per column
    per_column: tuple[str, ...] = ()    # keys that may differ between columns (the recipes)
    tuning: Tuning = Tuning()
    margin: float | None = None         # equivalence margin of decided claims (points)


@dataclass(frozen=True)
class RowConfig:
    """A layout row with its label, its resolved configuration per dataset and the overrides
    (the row's, the dataset and its recipe) that compose it on top of the layout's common."""

    row: LayoutRow
    label: str
    configs: dict[str, dict]
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def signatures(self) -> tuple[str, ...]:
        """Record-folder signature per dataset, in column order; equal iff same configuration."""
        return tuple(signature(c) for c in self.configs.values())


# ----------------------------------------------------------------------------- aggregation


def _standard_error(errors: pd.Series) -> float:
    """stdev (ddof=1) / sqrt(n), NaN for one value. `statistics` sums exactly; pandas' own
    mean and sem differ from it in the last bit, which would change table.csv's digits."""
    return statistics.stdev(errors) / math.sqrt(len(errors)) if len(errors) > 1 else math.nan


def aggregate(entries: Iterable[Entry]) -> tuple[dict[Key, Cell], dict[Key, int]]:
    """Cells of the `ok` records (with the health of those that did not train well) and
    counts of the failed ones, keyed (label, dataset): a DataFrame of (label, dataset, status,
    test error, health) grouped by (label, dataset)."""
    frame = pd.DataFrame(
        [(label, dataset, r["status"],
          float(r["metrics"]["test_error"]) if r["status"] == "ok" else math.nan,
          health_status(r) if r["status"] == "ok" else "")
         for label, dataset, r in entries],
        columns=["label", "dataset", "status", "test_error", "health"])
    ok = frame[frame["status"] == "ok"]
    stats = ok.groupby(["label", "dataset"], sort=False)["test_error"].agg(
        mean=statistics.fmean, se=_standard_error, n="count")
    sick = ok[ok["health"] != "ok"].groupby(["label", "dataset"], sort=False)["health"].agg(tuple)
    cells = {key: Cell(row["mean"], None if row["n"] < 2 else row["se"], int(row["n"]),
                       tuple(sorted(sick.get(key, ()))))
             for key, row in stats.iterrows()}
    failed = frame[frame["status"] != "ok"].groupby(["label", "dataset"], sort=False).size()
    return cells, {key: int(n) for key, n in failed.items()}


def _flatten(config: dict, prefix: str = "") -> dict[str, object]:
    """Dotted keys of a nested config, e.g. {"model.dual": True}."""
    flat: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def differences(a: dict, b: dict, drop: Iterable[str] = ()) -> str:
    """The result-changing keys where `a` and `b` differ, as "key: a vs b; ...".

    Keys are compared as the signature compares them (`effective_config`, without `drop`).
    """
    fa = _flatten(effective_config(a, drop))
    fb = _flatten(effective_config(b, drop))
    missing = "<absent>"
    return "; ".join(
        f"{k}: {fa.get(k, missing)} vs {fb.get(k, missing)}"
        for k in sorted(fa.keys() | fb.keys())
        if fa.get(k, missing) != fb.get(k, missing)
    )


def check_labels(entries: Iterable[Entry], per_column: Iterable[str] = ()) -> None:
    """Raise LabelCollision if one label names two configurations.

    `entries` are (label, dataset, config). Within a dataset the full signatures must agree;
    across datasets the signatures without `dataset` and the `per_column` keys (e.g. `optim`,
    when each column has its own tuned recipe) must agree. A frame of (label, dataset,
    signatures) marks every entry that differs from the first of its group; the earliest one
    is named with the first it differs from.
    """
    entries = list(entries)
    if not entries:
        return
    configs = [config for _, _, config in entries]
    across_drop = ("dataset", *per_column)
    frame = pd.DataFrame([(label, dataset, signature(c), signature(c, drop=across_drop))
                          for label, dataset, c in entries],
                         columns=["label", "dataset", "full", "bare"])
    in_column = frame["full"] != frame.groupby(["label", "dataset"])["full"].transform("first")
    across = frame["bare"] != frame.groupby("label")["bare"].transform("first")
    bad = frame[in_column | across]
    if bad.empty:
        return
    i = bad.index[0]
    label, dataset, full = frame.at[i, "label"], frame.at[i, "dataset"], frame.at[i, "full"]
    if in_column[i]:
        j = frame[(frame["label"] == label) & (frame["dataset"] == dataset)].index[0]
        raise LabelCollision(
            f"label {label!r} names two configurations in column {dataset}: "
            f"{frame.at[j, 'full']} and {full} ({differences(configs[j], configs[i])})")
    j = frame[frame["label"] == label].index[0]
    raise LabelCollision(
        f"label {label!r} names two configurations in columns {frame.at[j, 'dataset']} and "
        f"{dataset}: {frame.at[j, 'full']} and {full} "
        f"({differences(configs[j], configs[i], drop=across_drop)})")


def label_order(row_label: str) -> tuple:
    """Sort key of the generic table: dense, the baselines NN, LRD, RER, HashedNets, MFH by U,
    G, -D last, then others; a `+DK` label right after its student."""
    base, dk = row_label.removesuffix("+DK"), row_label.endswith("+DK")
    if base == "dense":
        return (0, dk)
    if base in BASELINE_LABELS.values():
        return (1, list(BASELINE_LABELS.values()).index(base), dk)
    if base == "HashedNets":
        return (2, dk)
    parts = parse_label(base)
    if parts is not None:
        return (3, parts.hashes, parts.g_layers, parts.dual, dk)
    return (4, row_label)


def select(records: Iterable[dict], where: dict[str, object]) -> list[dict]:
    """Records whose config has every dotted key of `where` at the given value: the configs
    flattened to dotted columns (`pandas.json_normalize`), one mask per condition."""
    records = list(records)
    if not records or not where:
        return records
    configs = pd.json_normalize([r["config"] for r in records])
    mask = pd.Series(True, index=configs.index)
    for key, value in where.items():
        column = configs[key] if key in configs else pd.Series(None, index=configs.index)
        mask &= column.map(lambda v, value=value: _same(v, value))
    return [r for r, keep in zip(records, mask, strict=True) if keep]


def _same(cell: object, value: object) -> bool:
    """Whether a config value equals a --where value (lists compare as lists; a missing key
    or null is NaN or None in the frame)."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return value is None
    return cell == value


def _require_values(cells: dict[Key, Cell], failed: dict[Key, int], where: str) -> None:
    if not cells:
        raise NoRecords(f"no ok records {where} ({sum(failed.values())} failed)")


def generic_table(records: Iterable[dict], caption: str = "",
                  unreadable: Iterable[Path] = (), per_column: Iterable[str] = ()) -> Table:
    """One row per label, one column per dataset, over all `records` given; `unreadable`:
    record files left out, listed under the table; `per_column`: keys that may differ
    between columns (`check_labels`)."""
    records = list(records)
    check_labels(((r["label"], r["dataset"], r["config"]) for r in records), per_column)
    cells, failed = aggregate((r["label"], r["dataset"], r) for r in records)
    _require_values(cells, failed, "in the records given")
    labels = sorted({r["label"] for r in records}, key=label_order)
    datasets = sorted({r["dataset"] for r in records})
    return Table([Row(x) for x in labels], datasets, cells, failed, caption,
                 tuple(map(str, unreadable)))


# ----------------------------------------------------------------------------- layouts


def load_layout(path: str | Path) -> Layout:
    """Read a layout file; its name is the file name without suffix (e.g. `table1`)."""
    path = Path(path)
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise LayoutError(f"{path}: expected a mapping with keys {', '.join(REQUIRED_LAYOUT_KEYS)}")
    missing = [k for k in REQUIRED_LAYOUT_KEYS if k not in data]
    if missing:
        raise LayoutError(f"{path}: missing keys {', '.join(missing)}")
    try:
        rows = tuple(LayoutRow(str(r["id"]), str(r.get("text", "")), tuple(r["overrides"]),
                               str(r.get("reference", "")), tuple(r.get("datasets", ())),
                               tuple(int(s) for s in r.get("seeds", ())))
                     for r in data["rows"])
    except (KeyError, TypeError) as e:
        raise LayoutError(f"{path}: every row needs an id and a list of overrides") from e
    for row in rows:
        unknown = sorted(set(row.datasets) - set(data["datasets"]))
        if unknown:
            raise LayoutError(f"{path}: row {row.id} names datasets that are not columns: "
                              f"{', '.join(unknown)} (columns: {', '.join(data['datasets'])})")
    try:
        claims = parse_claims(data.get("claims", []))
    except ValueError as e:
        raise LayoutError(f"{path}: {e}") from None
    try:
        tuning = Tuning.from_layout(data.get("tuning", {}))
    except (TypeError, ValueError) as e:
        raise LayoutError(f"{path}: tuning: {e}") from None
    margin = data.get("equivalence_margin")
    if any(c.decided for c in claims) and not (isinstance(margin, int | float) and margin > 0):
        raise LayoutError(f"{path}: claims with `primary:` need `equivalence_margin:` (points "
                          "of test error, > 0), set before the runs")
    return Layout(path.stem, str(data["caption"]).strip(), tuple(int(s) for s in data["seeds"]),
                  tuple(data["datasets"]), tuple(data["common"]), rows, claims,
                  str(data.get("recipe", "")), tuple(data.get("per_column", ())), tuning,
                  None if margin is None else float(margin))


def layout_caption(layout: Layout) -> str:
    """The caption with {cfg} (composed `common`), {seeds}, {n_seeds}, {datasets} and
    {tuning} filled in."""
    cfg = compose_config(list(layout.common))
    caption = layout.caption.format(cfg=cfg, seeds=", ".join(map(str, layout.seeds)),
                                    n_seeds=len(layout.seeds), datasets=", ".join(layout.datasets),
                                    tuning=layout.tuning)
    more = {}
    for row in layout.rows:
        if row.seeds:
            more.setdefault(row.seeds, []).append(row.id)
    for seeds, ids in more.items():
        caption += (f" Rows {', '.join(ids)}: {len(seeds)} seeds ({seeds[0]}-{seeds[-1]})."
                    if list(seeds) == list(range(seeds[0], seeds[-1] + 1)) else
                    f" Rows {', '.join(ids)}: {len(seeds)} seeds ({', '.join(map(str, seeds))}).")
    return caption


def row_seeds(layout: Layout, row: LayoutRow) -> tuple[int, ...]:
    """The seeds `row` runs: its own, else the layout's."""
    return row.seeds or layout.seeds


class MissingRecipe(LayoutError):
    """A layout column whose tuned recipe has not been written yet."""

    def __init__(self, layout: Layout, dataset: str, family: str, name: str) -> None:
        super().__init__(f"layout {layout.name}: no recipe {recipe_path(name)} for model={family} "
                         f"on {dataset}; `python scripts/tune.py --layout <layout> --dataset "
                         f"{dataset}` tunes it (make table1 does it first)")
        self.dataset, self.family, self.name = dataset, family, name


def recipe_name(layout: Layout, dataset: str, family: str) -> str:
    """The recipe of a (column, model family), from the layout's `recipe` template."""
    return layout.recipe.format(dataset=dataset, model=family)


def row_datasets(layout: Layout, row: LayoutRow) -> tuple[str, ...]:
    """The layout's columns that `row` runs on, in column order."""
    return tuple(d for d in layout.datasets if not row.datasets or d in row.datasets)


def layout_families(layout: Layout, dataset: str | None = None) -> list[str]:
    """The model families (mfh.harness.families) of the layout's rows (those on column `dataset`, if
    given), in order of first appearance."""
    families = [family_of(compose_config([*layout.common, *row.overrides]))
                for row in layout.rows
                if dataset is None or dataset in row_datasets(layout, row)]
    return list(dict.fromkeys(families))


def missing_recipes(layout: Layout) -> list[MissingRecipe]:
    """Each (column, family on that column) of a layout with `recipe` whose recipe file does
    not exist."""
    if not layout.recipe:
        return []
    return [MissingRecipe(layout, d, f, recipe_name(layout, d, f))
            for d in layout.datasets for f in layout_families(layout, d)
            if not recipe_path(recipe_name(layout, d, f)).exists()]


def ready_columns(layout: Layout) -> tuple[Layout, list[str]]:
    """The layout without its columns that miss a recipe, and those columns."""
    untuned = sorted({m.dataset for m in missing_recipes(layout)})
    kept = tuple(d for d in layout.datasets if d not in untuned)
    return replace(layout, datasets=kept), untuned


def _row_overrides(layout: Layout, row: LayoutRow, dataset: str) -> tuple[str, ...]:
    """The row's overrides on `dataset`, with the column's recipe when the layout has one."""
    overrides = (*row.overrides, f"dataset={dataset}")
    if not layout.recipe:
        return overrides
    family = family_of(compose_config([*layout.common, *overrides]))
    name = recipe_name(layout, dataset, family)
    if not recipe_path(name).exists():
        raise MissingRecipe(layout, dataset, family, name)
    return (*overrides, f"+recipe={name}")


def resolve_rows(layout: Layout) -> list[RowConfig]:
    """Compose, validate and label every row per dataset it runs on (a row on none of the
    layout's columns is left out); raise LabelCollision on a clash and MissingRecipe for a
    column whose recipe is not written."""
    if not layout.datasets:
        raise LayoutError(f"layout {layout.name} has no column to show (none has its recipes; "
                          "`python scripts/tune.py --dataset D` writes them)")
    resolved = []
    for row in layout.rows:
        configs, overrides, labels = {}, {}, set()
        if not row_datasets(layout, row):
            continue
        for dataset in row_datasets(layout, row):
            overrides[dataset] = _row_overrides(layout, row, dataset)
            spec = validate(compose_config([*layout.common, *overrides[dataset]]))
            configs[dataset] = spec.config
            labels.add(spec.label)
        if len(labels) != 1:
            raise LayoutError(f"row {row.id} has different labels per dataset: {sorted(labels)}")
        resolved.append(RowConfig(row, labels.pop(), configs, overrides))
    check_labels(((r.label, d, c) for r in resolved for d, c in r.configs.items()),
                 layout.per_column)
    return resolved


def distinct_configs(resolved: list[RowConfig]) -> list[list[RowConfig]]:
    """Rows grouped by configuration, in order of first appearance."""
    groups: dict[tuple[str, ...], list[RowConfig]] = {}
    for r in resolved:
        groups.setdefault(r.signatures, []).append(r)
    return list(groups.values())


def layout_entries(layout: Layout, resolved: list[RowConfig], results_dir: str | Path,
                   unreadable: list[Path] | None = None) -> list[Entry]:
    """(label, dataset, record) of every record of the layout's configurations, each at the
    seeds of its rows.

    An unreadable record raises CorruptRecord, or is appended to `unreadable` when given."""
    out = []
    for group in distinct_configs(resolved):
        seeds = sorted(set().union(*(row_seeds(layout, r.row) for r in group)))
        out += [(group[0].label, dataset, record)
                for dataset, config in group[0].configs.items()
                for record in records_at(results_dir, config, seeds, unreadable)]
    return out


def layout_table(layout: Layout, results_dir: str | Path,
                 unreadable: list[Path] | None = None) -> Table:
    """The layout's rows, with the records of each row's configuration at the layout's seeds.
    Unreadable records raise CorruptRecord, or are left out and listed when `unreadable` (a
    list, filled here) is given."""
    resolved = resolve_rows(layout)
    entries = layout_entries(layout, resolved, results_dir, unreadable)
    cells, failed = aggregate(entries)
    _require_values(cells, failed, f"for layout {layout.name} under {Path(results_dir) / 'runs'}")
    rows = [Row(r.label, r.row.id, r.row.text, r.row.reference) for r in resolved]
    return Table(rows, list(layout.datasets), cells, failed, layout_caption(layout),
                 tuple(map(str, unreadable or ())),
                 paired_cells(rows, layout.datasets, errors_by_seed(entries)))


def paired_cells(rows: list[Row], datasets: Iterable[str],
                 errors: dict[Key, dict[int, float]]) -> dict[tuple[str, str], PairedCell]:
    """Each row's paired difference to its reference, per column, Holm over the column's
    comparisons (rows that are their reference, or lack 2 shared seeds, are left out)."""
    out = {}
    for dataset in datasets:
        found = []
        for row in rows:
            a, b = errors.get((row.label, dataset), {}), errors.get((row.reference, dataset), {})
            if row.reference and row.reference != row.label and len(a.keys() & b.keys()) > 1:
                found.append((row, paired(a, b)))
        for (row, r), p in zip(found, holm([r.p_t for _, r in found]), strict=True):
            out[(row.id, dataset)] = PairedCell(row.reference, r, p)
    return out


# ----------------------------------------------------------------------------- rendering


def format_cell(value: Cell | None, pm: str = "±", empty: str = "–") -> str:
    """ "mean ± se (n)" with 2 decimals; "mean (1)" for a single run; `empty` for no run;
    "†" after it when it averages a run that did not train well (`Cell.unhealthy`)."""
    if value is None:
        return empty
    mark = "†" if value.unhealthy else ""
    if value.se is None:
        return f"{value.mean:.2f} ({value.n}){mark}"
    return f"{value.mean:.2f} {pm} {value.se:.2f} ({value.n}){mark}"


def best_cells(table: Table) -> set[Key]:
    """Per column, the cells whose displayed mean is the lowest (ties all count)."""
    best = set()
    for dataset in table.datasets:
        means = {k: round(c.mean, 2) for k, c in table.cells.items() if k[1] == dataset}
        if means:
            low = min(means.values())
            best |= {k for k, m in means.items() if m == low}
    return best


def _has_paired(table: Table) -> bool:
    return any(r.reference for r in table.rows)


def format_paired(table: Table, row: Row, dataset: str, pm: str = "±",
                  empty: str = "–") -> str:
    """ "-0.36 ± 0.33 vs HashedNets, p 1.00" (p Holm-adjusted; * when below 0.05),
    "reference" for a row that is its reference, `empty` otherwise."""
    if row.reference and row.reference == row.label:
        return "reference"
    c = table.paired.get((row.id, dataset))
    if c is None:
        return empty if row.reference else ""
    star = "*" if c.p_holm < 0.05 else ""
    return f"{c.result.mean:+.2f} {pm} {c.result.se:.2f} vs {c.reference}, p {c.p_holm:.2f}{star}"


def _paired_names(table: Table) -> list[str]:
    return [f"{d} paired difference" for d in table.datasets] if _has_paired(table) else []


def _row_header_names(table: Table) -> list[str]:
    ids = ["id"] if any(r.id for r in table.rows) else []
    texts = ["description"] if any(r.text for r in table.rows) else []
    return [*ids, "configuration", *texts]


def _row_header(table: Table, row: Row) -> list[str]:
    ids = [row.id] if any(r.id for r in table.rows) else []
    texts = [row.text] if any(r.text for r in table.rows) else []
    return [*ids, row.label, *texts]


def failed_note(table: Table) -> str:
    """Sentences listing the runs that did not train well (cells marked †), the skipped failed
    runs and the unreadable records left out, or ""."""
    notes = []
    sick = {key: c.unhealthy for key, c in table.cells.items() if c.unhealthy}
    if sick:
        items = ", ".join(
            f"{lab} on {d} (" + ", ".join(f"{statuses.count(h)} {h}" for h in sorted(
                set(statuses))) + ")" for (lab, d), statuses in sorted(sick.items()))
        notes.append("† averages runs that did not train well (never left chance loss: dead; "
                     f"sat at it first: plateau; diverged; mfh/harness/health.py): {items}.")
    if table.failed:
        items = ", ".join(f"{lab} on {d} ({n})" for (lab, d), n in sorted(table.failed.items()))
        notes.append(f"Skipped failed runs: {items}.")
    if table.unreadable:
        notes.append(f"Left out unreadable records: {', '.join(table.unreadable)}.")
    return " ".join(notes)


def to_markdown(table: Table) -> str:
    """Markdown: optional caption paragraph, the table, and a note on skipped failed runs."""
    best = best_cells(table)

    def line(items: list[str]) -> str:
        return "| " + " | ".join(x.replace("|", r"\|") for x in items) + " |"

    names = _row_header_names(table)
    extra = _paired_names(table)
    out = [table.caption, ""] if table.caption else []
    out += [line(names + table.datasets + extra),
            "|" + "---|" * len(names) + "---:|" * (len(table.datasets) + len(extra))]
    for row in table.rows:
        values = []
        for d in table.datasets:
            text = format_cell(table.cells.get((row.label, d)))
            values.append(f"**{text}**" if (row.label, d) in best else text)
        values += [format_paired(table, row, d) for d in table.datasets] if extra else []
        out.append(line(_row_header(table, row) + values))
    if failed_note(table):
        out += ["", failed_note(table)]
    return "\n".join(out) + "\n"


def to_csv(table: Table) -> str:
    """CSV: row headers, then `<dataset>_mean`, `_se`, `_n`, `_failed`, `_unhealthy` (runs
    averaged in that did not train well) per dataset, and with references `_reference`,
    `_diff`, `_diff_se`, `_p_holm`; no bold."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = ["mean", "se", "n", "failed", "unhealthy"]
    if _has_paired(table):
        columns += ["reference", "diff", "diff_se", "p_holm"]
    writer.writerow(_row_header_names(table)
                    + [f"{d}_{x}" for d in table.datasets for x in columns])
    for row in table.rows:
        values: list[object] = []
        for d in table.datasets:
            c = table.cells.get((row.label, d))
            values += [c.mean if c else "", c.se if c and c.se is not None else "",
                       c.n if c else 0, table.failed.get((row.label, d), 0),
                       len(c.unhealthy) if c else 0]
            if _has_paired(table):
                p = table.paired.get((row.id, d))
                values += [row.reference] + ([p.result.mean, p.result.se, p.p_holm] if p
                                             else ["", "", ""])
        writer.writerow(_row_header(table, row) + values)
    return buffer.getvalue()


LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "±": r"$\pm$", "–": "--"}


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped (and ± as $\\pm$)."""
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """A booktabs `table` environment: caption on top, bold best per column, failed-run note."""
    best = best_cells(table)
    names = _row_header_names(table)
    extra = _paired_names(table)
    out = [r"\begin{table}[t]", r"\centering"]
    if table.caption:
        out.append(rf"\caption{{{latex_escape(table.caption)}}}")
    widths = "r" * (len(table.datasets) + len(extra))
    out += [rf"\begin{{tabular}}{{{'l' * len(names)}{widths}}}", r"\toprule",
            " & ".join(latex_escape(x) for x in names + table.datasets + extra) + r" \\",
            r"\midrule"]
    for row in table.rows:
        values = []
        for d in table.datasets:
            text = format_cell(table.cells.get((row.label, d)), pm=r"$\pm$", empty="--")
            values.append(rf"\textbf{{{text}}}" if (row.label, d) in best else text)
        values += [latex_escape(format_paired(table, row, d)) for d in table.datasets] \
            if extra else []
        header = [latex_escape(x) for x in _row_header(table, row)]
        out.append(" & ".join(header + values) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if failed_note(table):
        out.append(rf"\par\smallskip{{\footnotesize {latex_escape(failed_note(table))}}}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def write_tables(table: Table, out_dir: str | Path, name: str) -> list[Path]:
    """Write `<out_dir>/<name>.md`, `.csv` and `.tex`; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, render in ((".md", to_markdown), (".csv", to_csv), (".tex", to_latex)):
        path = out_dir / f"{name}{suffix}"
        path.write_text(render(table))
        paths.append(path)
    return paths
