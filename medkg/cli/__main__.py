"""`python -m medkg.cli`: the `medkg` command."""
from medkg.cli import main

if __name__ == "__main__":
    main()
