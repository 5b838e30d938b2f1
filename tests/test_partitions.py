"""What a cluster's partitions offer, read from ``scontrol``/``sinfo`` output as Slurm prints it, and
the requests that would pend forever (``ncsn.partitions``; the workflow's ``onstart`` check)."""

from __future__ import annotations

import math

import pytest

from ncsn.partitions import (
    Request,
    features_met,
    fitted_threads,
    parse_gres,
    parse_gres_request,
    parse_limit_minutes,
    parse_nodes,
    parse_partitions,
    problems,
    resolve,
)

# Captured from the one-node test cluster (tests/slurm/cluster.sh, Slurm 22.05): `scontrol show partition -o`
# and `sinfo -h -N -o '%R|%N|%c|%m|%G|%f'`.
TEST_CLUSTER_SCONTROL = (
    "PartitionName=cpu AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=YES QoS=N/A "
    "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
    "MaxTime=UNLIMITED MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 "
    "RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=3 TotalNodes=1 "
    "SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED "
    "TRES=cpu=3,mem=23081M,node=1,billing=3\n"
    "PartitionName=gpu AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL Default=NO QoS=N/A "
    "DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 Hidden=NO MaxNodes=UNLIMITED "
    "MaxTime=00:02:00 MinNodes=0 LLN=NO MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 "
    "RootOnly=NO ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=3 TotalNodes=1 "
    "SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED MaxMemPerNode=UNLIMITED "
    "TRES=cpu=3,mem=23081M,node=1,billing=3\n"
)
TEST_CLUSTER_SINFO = "cpu|vm|3|23081|gpu:2|(null)\ngpu|vm|3|23081|gpu:2|(null)\n"
# A site of another shape, in the same formats: typed GPUs with socket bindings, node features, a
# per-node CPU cap on the GPU partition, a days-long MaxTime.
SITE_SCONTROL = (
    "PartitionName=gpu AllowGroups=ALL Default=NO MaxTime=2-00:00:00 MaxCPUsPerNode=16 MaxMemPerNode=UNLIMITED "
    "Nodes=g[01-02] State=UP TotalCPUs=128\n"
    "PartitionName=short AllowGroups=ALL Default=YES MaxTime=04:00:00 MaxCPUsPerNode=UNLIMITED "
    "MaxMemPerNode=64000 Nodes=c01 State=UP TotalCPUs=32\n"
)
SITE_SINFO = (
    "gpu|g01|64|515000|gpu:a100:4(S:0-1)|a100,ib\n"
    "gpu|g02|64|257000|gpu:v100:2(S:0),gpu:v100:2(S:1)|v100\n"
    "short|c01|32|128000|(null)|(null)\n"
)


def site_partitions():
    return parse_nodes(SITE_SINFO, parse_partitions(SITE_SCONTROL))


@pytest.mark.parametrize(
    "text, minutes",
    [("UNLIMITED", math.inf), ("00:02:00", 2), ("2-00:00:00", 2880), ("04:00:00", 240), ("30", 30), ("1-12", 2160)],
)
def test_time_limits_in_minutes(text, minutes):
    assert parse_limit_minutes(text) == minutes


@pytest.mark.parametrize(
    "text, gpus",
    [
        ("gpu:2", {"": 2}),
        ("gpu:a100:4(S:0-1)", {"a100": 4}),
        ("gpu:v100:2(S:0),gpu:v100:2(S:1)", {"v100": 4}),
        ("gpu:a100:4(S:0-1),mps:400", {"a100": 4}),
        ("(null)", {}),
    ],
)
def test_sinfo_gres_gives_gpus_by_model(text, gpus):
    assert parse_gres(text) == gpus


def test_gres_requests():
    assert parse_gres_request("gpu:1") == (1, None)
    assert parse_gres_request("gpu:a100:1") == (1, "a100")
    assert parse_gres_request("") == (0, None)


def test_the_test_clusters_partitions_are_read_with_their_limits_and_node():
    partitions = parse_nodes(TEST_CLUSTER_SINFO, parse_partitions(TEST_CLUSTER_SCONTROL))
    assert set(partitions) == {"cpu", "gpu"}
    assert partitions["gpu"].max_minutes == 2 and partitions["cpu"].max_minutes == math.inf
    assert resolve(partitions, None).name == "cpu"  # Default=YES
    [node] = partitions["gpu"].nodes
    assert (node.cpus, node.mem_mb, node.gpus) == (3, 23081, {"": 2})


def test_threads_are_lowered_to_the_largest_node_and_the_partitions_cpu_cap():
    site = site_partitions()
    assert fitted_threads(site["gpu"], 32) == 16  # MaxCPUsPerNode=16 on 64-CPU nodes
    assert fitted_threads(site["short"], 4) == 4
    small = parse_nodes(TEST_CLUSTER_SINFO, parse_partitions(TEST_CLUSTER_SCONTROL))
    assert fitted_threads(small["gpu"], 4) == 3  # the rule's default of 4 on a 3-CPU node
    assert fitted_threads(None, 4) == 4


def test_constraints_are_read_as_alternatives_of_all_of_features():
    assert features_met("a100", {"a100", "ib"})
    assert features_met("v100|a100", {"a100"})
    assert features_met("a100&ib", {"a100", "ib"}) and not features_met("a100&ib", {"a100"})
    assert features_met(None, set())


def _request(**change) -> Request:
    return Request(**{"what": "rule train", "partition": "gpu", "cpus": 4, "mem_mb": 16000, "runtime": 60} | change)


def test_requests_that_fit_a_node_raise_nothing():
    site = site_partitions()
    fitting = [
        _request(gpus=1, gpu_model="a100", constraint="ib"),
        _request(gpus=4, gpu_model="v100", mem_mb=200000),
        _request(partition=None, gpus=0, runtime=240),
    ]
    assert problems(fitting, site, max_runtime=2880) == []


@pytest.mark.parametrize(
    "change, words",
    [
        ({"partition": "big"}, ["rule train", "partition 'big'", "gpu, short"]),
        ({"runtime": 3000}, ["3000 min", "MaxTime of 2880 min"]),
        ({"cpus": 20}, ["20 CPUs", "has 16"]),
        ({"mem_mb": 600000}, ["600000 MB", "515000 MB"]),
        ({"gpus": 1, "gpu_model": "h100"}, ["1 h100 GPU(s)"]),
        ({"gpus": 4, "gpu_model": "a100", "constraint": "v100"}, ["features 'v100'"]),
        ({"partition": None, "gpus": 1}, ["partition short", "1 GPU(s)", "none"]),
        ({"group": True, "runtime": 480, "what": "group score (8 jobs of score)"}, ["group score", "480 min", "240"]),
    ],
)
def test_a_request_no_node_meets_is_named_with_the_limit(change, words):
    [problem] = problems([_request(**change)], site_partitions(), max_runtime=240)
    assert all(word in problem for word in words), problem


def test_a_request_listing_several_partitions_fits_if_one_of_them_can_take_it():
    site = site_partitions()
    assert problems([_request(partition="short,gpu", gpus=1, gpu_model="a100")], site, max_runtime=240) == []
    [problem] = problems([_request(partition="short,gpu", mem_mb=10**7)], site, max_runtime=240)
    assert "partition short" in problem
    assert resolve(site, "nope,gpu").name == "gpu"
