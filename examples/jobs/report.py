"""Prints a small report; run by the hello_sirocco example DAG."""
import os
import sys


def main() -> None:
    ds, words = sys.argv[1], sys.argv[2]
    print(f"report for {ds}: the greeting had {words} words")
    print(f"dag={os.environ['SIROCCO_CTX_DAG_ID']} try={os.environ['SIROCCO_CTX_TRY_NUMBER']}")
    print(f"{words}")


if __name__ == "__main__":
    main()
