from kedasuite.cli import main

main(prog_name="kedasuite")
