"""SLA service: business-time clocks for first response and resolution of enterprise demands."""
