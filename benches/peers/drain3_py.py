"""A peer for `log-gardener parse` in the fingerprint benchmarks: Python drain3 (pip install
drain3) with the masks its README documents (IP addresses and numbers), reading one message per
line from stdin and printing `cluster-id<TAB>template` per line."""

import sys

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig


def main() -> None:
    config = TemplateMinerConfig()
    config.masking_instructions = [
        MaskingInstruction(
            r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"
        ),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
    ]
    miner = TemplateMiner(config=config)
    out = sys.stdout
    for line in sys.stdin:
        result = miner.add_log_message(line.rstrip("\r\n"))
        out.write(f"{result['cluster_id']}\t{result['template_mined']}\n")


if __name__ == "__main__":
    main()
