"""The Procfile's release command: runs once per release, before its instances start
(where a real app runs its database migrations). A non-zero exit fails the push."""

import os
from pathlib import Path

Path("migrated.txt").write_text(os.environ.get("FRONTDESK_RELEASE", "-") + "\n")
print("migrations applied")
