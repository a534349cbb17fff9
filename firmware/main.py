"""Board entry point (runs at every boot): start the repbelt application.

An unexpected crash is printed, shown on the LED for a few seconds and
followed by a reset, so a bug never leaves the belt dead or in a
traceback loop; the log on flash keeps everything recorded so far.
"""
import sys

import rb_app

CRASH_RESET_DELAY_MS = 5000

try:
    rb_app.main()
except KeyboardInterrupt:
    pass
except Exception as e:
    sys.print_exception(e)
    import time
    import machine
    time.sleep_ms(CRASH_RESET_DELAY_MS)
    machine.reset()
