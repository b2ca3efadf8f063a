"""The migration engine: preflight checks, the plan with its diffs, and the journaled runner.

Shared by the migration screen and the headless `check`, `plan` and `migrate` commands; see
docs/MIGRATION.md.
"""
