"""The audit's session settings on PostgreSQL: the model's own SQL runs with the server's
settings; the audit statements after it, in the same transaction, run without JIT compilation
(scratch tables have no statistics, and compiling cost more than the statements)."""

from __future__ import annotations

import pytest


@pytest.mark.postgres
def test_only_the_audit_runs_without_jit(make_project):
    project = make_project("postgres")
    project.write("seeds/raw.csv", "id,v\n1,a\n2,\n3,c\n")
    # the model records the setting its own SQL ran with; a post-hook (inside the model's
    # transaction, after the audit) records the setting the audit left
    project.write(
        "models/items.sql",
        """
        {{ config(post_hook="insert into " ~ target.schema ~ ".seen select 'audit', current_setting('jit')") }}
        select r.*, current_setting('jit') as jit_in_model from {{ ref('raw') }} as r
        """,
    )
    project.write(
        "models/schema.yml",
        """
        models:
          - name: items
            config: {materialized: sluice, meta: {sluice: {key: id, gate: {high: none}}}}
            columns:
              - name: v
                data_tests:
                  - sluice.sluice_not_null: {arguments: {}}
        """,
    )
    project.dbt("seed")
    project.execute("create table {schema}.seen (step text, jit text)")
    server = project.query("select current_setting('jit')")[0][0]
    assert server == "on"  # PostgreSQL's default, which the test server keeps
    project.dbt("run")
    assert project.query("select distinct jit_in_model from {schema}.items") == [(server,)]
    assert project.query("select step, jit from {schema}.seen") == [("audit", "off")]
    assert project.query("select count(*) from {schema}.items__quarantine") == [(1,)]
    # the setting ended with the model's transaction
    assert project.query("select current_setting('jit')") == [(server,)]
