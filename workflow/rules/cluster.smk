# What each job asks a cluster for: GPU request, runtime, CPUs, memory and (for train) how
# many submissions. One definition: the cost function of each rule (ncsn.costs), as
# `python -m ncsn estimate` applies it, and the config's `cluster` block; partition, account,
# GPU model and constraint only where the block names them (else a site profile's
# default-resources apply), and every request checked against the cluster's partitions
# before the first submission (ncsn.partitions; docs/running.md, "SLURM").


def submitting() -> bool:
    """Whether Snakemake submits jobs (an executor such as slurm), not runs them here; also inside
    a submitted job (`--mode remote`: the job's threads must be those it asked for), and a dry run
    of such an executor (`-n --executor slurm`: Snakemake then runs its jobs in threads), so that
    it shows what would be asked."""
    dry_remote = workflow.dryrun and workflow.execution_settings.use_threads
    return workflow.non_local_exec or workflow.remote_exec or dry_remote


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
    (ncsn.estimate.runtime_minutes), doubled per retry (Snakemake's `attempt`: a job that timed
    out gets more), capped at cluster.max_runtime; just the cap when nothing is submitted.
    """

    def runtime(wildcards, attempt) -> int:
        if (
            not submitting() or workflow.remote_exec
        ):  # no cost to compute inside the job
            return config["cluster"]["max_runtime"]
        from ncsn.estimate import runtime_minutes

        clock = None if rule_name in config["cluster"]["runtime"] else job_clock()
        minutes = runtime_minutes(
            config, rule_name, dict(wildcards.items()), clock, attempt
        )
        if (
            attempt > 1
        ):  # a retry never pushes its group over the cap (first tries: check_requests)
            cap = config["cluster"]["max_runtime"] // group_size(rule_name)
            minutes = min(minutes, max(1, cap))
        return minutes

    return runtime


def group_size(rule_name: str) -> int:
    """How many jobs one submission of the rule's group runs (`--group-components`; 1 ungrouped)."""
    settings = workflow.group_settings
    group = settings.overwrite_groups.get(rule_name)
    return settings.group_components.get(group, 1) if group else 1


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


def asks_gpu(gpu: bool) -> bool:
    """Whether a job that can use a GPU (`gpu`) asks a cluster for one; never with device cpu."""
    return gpu and config["device"] != "cpu"


def cluster_resources(rule_name: str, gpu: bool = False) -> dict:
    """The resources a job of `rule_name` asks a cluster for (a GPU when `gpu`), spread into each
    submitted rule's `resources:` (the `localrules` never reach a cluster). Only what the config
    names is set: an unset partition or account leaves a site profile's `default-resources` (or
    the executor's choice) in force. The GPU model and node constraint go to GPU jobs only.
    """
    cluster = config["cluster"]
    requests = {"runtime": job_runtime(rule_name)}
    partition = named_partition(asks_gpu(gpu))
    if partition:
        requests["slurm_partition"] = partition
    if cluster["account"]:
        requests["slurm_account"] = cluster["account"]
    if asks_gpu(gpu):
        requests["gpu"] = gpu_count
        if cluster["gpu_request"] == "gres":
            requests["gres"] = gres_request
        elif cluster["gpu_model"]:
            requests["gpu_model"] = cluster["gpu_model"]  # --gpus=MODEL:1
        if cluster["gpu_constraint"]:
            requests["constraint"] = cluster["gpu_constraint"]
    return requests


def cluster_mem(rule_name: str, mem_mb: int):
    """`mem_mb` of a submitted rule: cluster.mem_mb's figure for it when submitting, else its own."""

    def mem(wildcards) -> int:
        if submitting():
            return config["cluster"]["mem_mb"].get(rule_name, mem_mb)
        return mem_mb

    return mem


def gres_request(wildcards) -> str:
    """`gres` resource with cluster.gpu_request gres: gpu:1, or gpu:MODEL:1 with cluster.gpu_model
    (sbatch --gres=...); empty on a workstation."""
    model = config["cluster"]["gpu_model"]
    return (f"gpu:{model}:1" if model else "gpu:1") if submitting() else ""


def cluster_threads(rule_name: str, threads: int, gpu: bool = False):
    """`threads` of a rule: its own `threads` on a workstation; when submitting, cluster.threads'
    figure for it (else its own), lowered to the CPUs of the largest node of the partition it goes
    to (ncsn.partitions.fitted_threads; noted in the log at the start)."""

    def count(wildcards) -> int:
        if not submitting():
            return threads
        wanted = config["cluster"]["threads"].get(rule_name, threads)
        if workflow.dryrun:  # the cluster is not asked
            return wanted
        from ncsn.partitions import fitted_threads, resolve

        partitions = cluster_partitions()
        if partitions is None:
            return wanted
        partition = resolve(partitions, target_partition(asks_gpu(gpu)))
        fitted = fitted_threads(partition, wanted)
        if fitted < wanted:
            _ADAPTED[rule_name] = (
                f"{rule_name}: asks for {fitted} CPUs instead of {wanted}, the most a node of "
                f"partition {partition.name} has"
            )
        return fitted

    return count


_PARTITIONS = []
_ADAPTED = {}


def cluster_partitions():
    """The partitions of the cluster (ncsn.partitions.query, read once); None where sinfo fails."""
    if not _PARTITIONS:
        from ncsn.partitions import query

        _PARTITIONS.append(query())
    return _PARTITIONS[0]


def named_partition(gpu: bool):
    """The partition the config's `cluster` block names for GPU (`gpu`) or CPU-only jobs, or None."""
    return config["cluster"]["gpu_partition" if gpu else "cpu_partition"]


def target_partition(gpu: bool):
    """The partition a job goes to as far as the config and `--default-resources` say (None: the
    cluster's default)."""
    named = named_partition(gpu)
    if named:
        return named
    defaults = workflow.resource_settings.default_resources
    for arg in getattr(defaults, "args", None) or []:  # NAME=VALUE, as given
        name, _, value = arg.partition("=")
        if name.strip() == "slurm_partition" and value.strip("'\" "):
            return value.strip("'\" ")
    return None


def submitted_requests():
    """What each submission of this run asks for (ncsn.partitions.Request): every job that is not
    local, a group as a whole (its runtime the sum of its jobs' in series)."""
    from ncsn.partitions import Request, parse_gres_request

    requests, seen = [], set()
    for job in workflow.dag.needrun_jobs():  # a group as a whole, once
        item = workflow.dag.get_job_group(job) or job
        if item in seen:
            continue
        seen.add(item)
        jobs = list(item.jobs) if item.is_group() else [item]
        if all(job.is_local for job in jobs):
            continue
        res = item.resources
        first = jobs[0].resources
        gres_gpus, gres_model = parse_gres_request(first.get("gres"))
        if item.is_group():
            rules = sorted({job.rule.name for job in jobs})
            what = f"group {item.groupid} ({len(jobs)} jobs of {', '.join(rules)})"
        else:
            what = f"rule {item.rule.name} ({', '.join(f'{k}={v}' for k, v in item.wildcards_dict.items())})"
        requests.append(
            Request(
                what=what,
                partition=first.get("slurm_partition") or None,
                cpus=res.get("_cores", 1),
                mem_mb=res.get("mem_mb"),
                runtime=res.get("runtime"),
                gpus=first.get("gpu", 0) or gres_gpus,
                gpu_model=first.get("gpu_model") or gres_model,
                constraint=first.get("constraint"),
                group=item.is_group(),
            )
        )
    return requests


def check_requests() -> None:
    """Before the first submission: stop, naming each job and the limit, where a request could only
    pend forever (no node of its partition has its CPUs, memory, GPUs or features, more time than
    the partition's MaxTime, a group over cluster.max_runtime); note the threads lowered to fit.
    """
    if (
        not workflow.non_local_exec or workflow.remote_exec
    ):  # the submitting process only
        return
    partitions = cluster_partitions()
    if partitions is None:
        logger.warning(
            "ncsn: could not read the cluster's partitions (scontrol/sinfo failed): requests unchecked"
        )
        return
    from ncsn.partitions import problems

    requests = (
        submitted_requests()
    )  # evaluates the jobs' threads: after it, _ADAPTED is complete
    for note in _ADAPTED.values():
        logger.warning(f"ncsn: {note}")
    found = problems(requests, partitions, config["cluster"]["max_runtime"])
    if found:
        raise WorkflowError(
            "These jobs ask for more than the cluster offers and would wait forever; "
            'nothing was submitted (docs/running.md, "Requests that fit"):\n  - '
            + "\n  - ".join(found)
        )
