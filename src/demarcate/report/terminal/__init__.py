"""Terminal rendering, by what it prints. Every string from a manifest is untrusted: it reaches the
terminal only as plain rich Text with control characters removed, never as markup (common.py)."""

from __future__ import annotations

from demarcate.report.terminal.campaign import (
    HELD,
    OUTCOME_STYLE,
    campaign_errors,
    chain_groups,
    print_campaign,
    print_campaign_short,
    print_case,
)
from demarcate.report.terminal.catalog import (
    WIDE_CATALOG,
    WIDE_RULES,
    catalog_table,
    print_control,
    print_presets,
    print_probe,
    print_probes,
    print_rule,
    print_switches,
    rules_table,
)
from demarcate.report.terminal.check import (
    ALSO_SHOWN,
    ASSURANCE_NOTE,
    PATH_STATE,
    print_check,
    print_counts,
    print_diff,
    print_finding,
)
from demarcate.report.terminal.common import CLAIM_STYLE, SEVERITY_STYLE, STATUS_STYLE, t
from demarcate.report.terminal.history import (
    print_analysis_diff,
    print_run_diff,
    print_stored_analysis,
    run_outcome,
    runs_table,
)
from demarcate.report.terminal.matrix import (
    TESTED_STYLE,
    matrix_summary,
    matrix_table,
    print_answer,
)

__all__ = ["ALSO_SHOWN", "ASSURANCE_NOTE", "CLAIM_STYLE", "HELD", "OUTCOME_STYLE", "PATH_STATE", "SEVERITY_STYLE", "STATUS_STYLE", "TESTED_STYLE", "WIDE_CATALOG", "WIDE_RULES", "campaign_errors", "catalog_table", "chain_groups", "matrix_summary", "matrix_table", "print_analysis_diff", "print_answer", "print_campaign", "print_campaign_short", "print_case", "print_check", "print_control", "print_counts", "print_diff", "print_finding", "print_presets", "print_probe", "print_probes", "print_rule", "print_run_diff", "print_stored_analysis", "print_switches", "rules_table", "run_outcome", "runs_table", "t"]
