from avanomaly.cli import main

main()
