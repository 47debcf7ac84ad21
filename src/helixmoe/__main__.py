"""``python -m helixmoe`` (also what ``accelerate launch -m helixmoe`` runs)."""

from helixmoe.cli import main

main()
