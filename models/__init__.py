"""Systems under test (the Backoffer of TiDB v5.1, a Go-map tripwire) and their specs."""
