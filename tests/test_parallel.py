"""Sluice models building in parallel share the run log without racing to create it."""

from __future__ import annotations


def test_parallel_sluice_models_share_the_run_log(make_project, engine):
    project = make_project(engine)
    project.write("seeds/raw.csv", "id,v\n1,a\n2,\n3,c\n")
    models = [f"m{i}" for i in range(6)]
    for name in models:
        project.write(f"models/{name}.sql", "select * from {{ ref('raw') }}\n")
    entries = "\n".join(
        f"  - name: {name}\n    config: {{materialized: sluice, meta: {{sluice: {{key: id, gate: {{high: 5}}}}}}}}\n"
        f"    columns:\n      - name: v\n        data_tests:\n          - sluice.sluice_not_null: {{name: {name}_v, arguments: {{}}}}"
        for name in models
    )
    project.write("models/schema.yml", "models:\n" + entries + "\n")
    result = project.dbt("build", "--threads", "4")
    for name in models:
        assert result.status(name) == "success", result.output[-3000:]
    assert project.query("select count(*) from {schema}.sluice_runs")[0][0] == len(models)
