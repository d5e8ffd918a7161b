"""The code location: everything under ``defs/``, one folder per source or stage.

Every run executes its steps in one process (Dagster's in-process executor), including the runs
a backfill or a "Materialize" click in the UI launches through Dagster's implicit asset job: a new
Python process per step costs about 2 s on a small machine, more than most steps' work.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(executor=dg.in_process_executor),
    )
