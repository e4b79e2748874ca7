"""SLA over HTTP: the JSON API, its schemas and the compliance page (the only modules that know Flask)."""
