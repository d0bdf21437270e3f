"""A local imitation of the GitHub REST API, checked against GitHub's OpenAPI."""

from .server import FAKE_KEY, create_fake_app, error
from .state import Entry, FakeGitHub, Recorded, Repo, folder_files

__all__ = [
    "FAKE_KEY",
    "Entry",
    "FakeGitHub",
    "Recorded",
    "Repo",
    "create_fake_app",
    "error",
    "folder_files",
]
