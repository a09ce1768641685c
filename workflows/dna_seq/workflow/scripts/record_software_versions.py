"""Write software_versions.yaml (step, tool, version for every step) and the MultiQC
software-versions section."""


from typing import Any

import yaml


def main(snakemake: Any) -> None:
    versions = dict(snakemake.params.tool_versions)
    steps = [
        {"step": step, "tool": tool, "version": versions[tool]}
        for step, tool in snakemake.params.steps
    ]
    doc = {
        "harmonised": bool(snakemake.params.harmonised),
        "tool_versions": versions,
        "steps": steps,
    }
    with open(snakemake.output.versions, "w") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    # MultiQC: {group: {tool: version}} in a *_mqc_versions.yml file.
    mqc: dict[str, dict[str, str]] = {}
    for step in steps:
        mqc.setdefault(step["step"], {})[step["tool"]] = step["version"]
    with open(snakemake.output.mqc, "w") as fh:
        yaml.safe_dump(mqc, fh, sort_keys=False)
    with open(snakemake.log[0], "w") as log:
        log.write(f"{len(steps)} steps recorded\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
