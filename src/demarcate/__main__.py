from demarcate.cli import main

main()
