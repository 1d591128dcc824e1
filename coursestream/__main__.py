from coursestream.cli import main

main()
