"""NTU RGB+D 60/120: sample names and protocols, skeleton files, manual-dir sources."""
