# What each job asks a cluster for: GPU request, runtime and (for train) how many
# submissions. One definition: the cost function of each rule (ncsn.costs), as
# `python -m ncsn estimate` applies it, and the config's `cluster` block; partitions
# and account are the executor's (docs/running.md, "SLURM").


def submitting() -> bool:
    """Whether Snakemake submits jobs (an executor such as slurm), not runs them here."""
    return workflow.non_local_exec


_CLOCK = []


def job_clock():
    """Minutes of a job on `cluster.gpu` from its rule's cost function (ncsn.costs, the same as
    `python -m ncsn estimate`), FLOP counts computed once."""
    if not _CLOCK:
        from ncsn.estimate import JobClock

        _CLOCK.append(JobClock(config))
    return _CLOCK[0]


def job_runtime(rule_name: str):
    """`runtime` resource of a rule: minutes of the job from its cost function
    (ncsn.estimate.runtime_minutes), capped at cluster.max_runtime; just the cap when nothing
    is submitted (no cost to compute).
    """

    def runtime(wildcards) -> int:
        if not submitting():
            return config["cluster"]["max_runtime"]
        from ncsn.estimate import runtime_minutes

        clock = None if rule_name in config["cluster"]["runtime"] else job_clock()
        return runtime_minutes(config, rule_name, dict(wildcards.items()), clock)

    return runtime


def set_train_retries() -> None:
    """Retries of train when submitting: one per further submission of the longest training
    the run plans (each stops before cluster.max_runtime and resumes), plus 3 for pre-emptions
    and failures. Set in `onstart`: a `retries:` directive is read before the executor is known.
    """
    if not submitting():
        return
    from ncsn.estimate import train_submissions

    trainings = [
        dict(job.wildcards_dict)
        for job in workflow.dag.needrun_jobs()
        if job.rule.name == "train"
    ]
    clock = None if "train" in config["cluster"]["runtime"] else job_clock()
    rules.train.rule.restart_times = train_submissions(config, clock, trainings) - 1 + 3


def gpu_count(wildcards) -> int:
    """GPUs a torch job asks for: 1 unless the config pins the CPU (or asks SLURM through gres).

    Every job uses one GPU (training is single-GPU). Workstations run up to N GPU
    jobs at once with `--resources gpu=N` (N = the number of GPUs); each job then
    reserves its own card (ncsn.gpus). The SLURM executor turns it into `--gpus`.
    """
    if config["device"] == "cpu":
        return 0
    return 0 if submitting() and config["cluster"]["gpu_request"] == "gres" else 1


def job_partition(asks_gpu: bool) -> str:
    """`slurm_partition`: cluster.gpu_partition for a job that asks for a GPU, else
    cluster.cpu_partition; empty (the executor decides) where the config names none."""
    cluster = config["cluster"]
    return (cluster["gpu_partition"] if asks_gpu else cluster["cpu_partition"]) or ""


def cluster_resources(rule_name: str, gpu: bool = False) -> dict:
    """The resources a job of `rule_name` asks a cluster for (one GPU when `gpu`), spread into
    each submitted rule's `resources:` (the `localrules` never reach a cluster)."""
    requests = {
        "runtime": job_runtime(rule_name),
        "slurm_partition": lambda wildcards: job_partition(
            gpu and bool(gpu_count(wildcards) or gres_request(wildcards))
        ),
        "slurm_account": config["cluster"]["account"] or "",
    }
    if gpu:
        requests |= {"gpu": gpu_count, "gres": gres_request}
    return requests


def gres_request(wildcards) -> str:
    """`gres` resource: gpu:1 (sbatch --gres=gpu:1) when cluster.gpu_request is gres, else none."""
    if config["device"] == "cpu" or config["cluster"]["gpu_request"] != "gres":
        return ""
    return "gpu:1" if submitting() else ""
