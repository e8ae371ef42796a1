"""Keeps a multi-node Ray cluster on this machine: Ray's own harness, `ray.cluster_utils.Cluster`.

Run inside the tests' namespace (see ray_cluster.py) as `python ray_nodes.py TEMP HEAD_CPUS
NODE_CPUS`. Each node is a raylet of its own with its own CPUs, as on separate machines. It
prints `READY {"address", "head", "nodes"}` (node ids), then obeys one command per line on
stdin, answering one JSON line each: `remove` (the newest worker node dies with all its
processes, as when a machine is lost), `add CPUS`, `quit`.
"""

from __future__ import annotations

import json
import sys

from ray.cluster_utils import Cluster


def main(temp_dir: str, head_cpus: int, node_cpus: int) -> None:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": head_cpus, "temp_dir": temp_dir, "include_dashboard": False},
    )
    nodes = [cluster.add_node(num_cpus=node_cpus)]
    cluster.wait_for_nodes()
    say = {"address": cluster.address, "head": cluster.head_node.node_id}
    print("READY " + json.dumps({**say, "nodes": [n.node_id for n in nodes]}), flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "remove":
            gone = nodes.pop()
            cluster.remove_node(gone, allow_graceful=False)
            print(json.dumps({"removed": gone.node_id}), flush=True)
        elif command == "add":
            nodes.append(cluster.add_node(num_cpus=int(args[0])))
            cluster.wait_for_nodes()
            print(json.dumps({"added": nodes[-1].node_id}), flush=True)
        elif command == "quit":
            break
    cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
