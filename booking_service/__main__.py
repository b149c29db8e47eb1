"""`python -m booking_service` is `booking-service`."""

import sys

from booking_service.entrypoints.cli import main

sys.exit(main())
