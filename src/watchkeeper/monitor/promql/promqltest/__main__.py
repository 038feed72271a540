"""``python -m watchkeeper.monitor.promql.promqltest FILE...``"""

import sys

from watchkeeper.monitor.promql.promqltest.runner import main

sys.exit(main())
