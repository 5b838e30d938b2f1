# Inception files with `download: true` that are absent: fetched from the config's URL on the
# submit host (a local rule: compute nodes often lack the network), written only when their
# SHA-256 is the published one (`ncsn fetch`). Present files are checked in `onstart`.

_fetch = weights_to_fetch(config)


if _fetch:

    rule fetch_weights:
        output:
            "{weights_file}",
        log:
            f"{LOGS}/fetch_weights/{{weights_file}}.log",
        wildcard_constraints:
            weights_file=name_pattern(list(_fetch)),
        params:
            url=lambda wc: _fetch[wc.weights_file]["url"],
            sha256=lambda wc: (
                f"--sha256 {_fetch[wc.weights_file]['sha256']}"
                if _fetch[wc.weights_file]["sha256"]
                else ""
            ),
        shell:
            "python -m ncsn fetch --url {params.url:q} {params.sha256} --out {output:q} > {log:q} 2>&1"
