"""Read models built from the notification log, and the runner that keeps them current."""
