"""`python -m tuneloop.local_vllm --model PATH ...` (see `tuneloop.local_vllm.cli`)."""

import sys

from tuneloop.local_vllm.cli import main

sys.exit(main())
