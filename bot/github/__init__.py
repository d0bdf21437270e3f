"""The only code that talks to GitHub: auth, client, snapshots, check runs, routes."""
