#!/usr/bin/python3
"""Sentences as NLTK's PunktSentenceTokenizer splits them with a punkt_tab model.

Usage (Debian python3-nltk; run with /usr/bin/python3):
  punkt_reference.py MODEL_DIR TEXTS.json

MODEL_DIR holds abbrev_types.txt, collocations.tab, sent_starters.txt and
ortho_context.tab (NLTK's punkt_tab layout); TEXTS.json is a JSON list of
strings. Prints one JSON line [text, sentences] per text. PunktTest's table
(worker/eval/punkt_test.cc) came from its small model this way.
"""
import json
import sys
from collections import defaultdict

from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


def load(model_dir):
    params = PunktParameters()
    params.abbrev_types = set(lines(f"{model_dir}/abbrev_types.txt"))
    params.sent_starters = set(lines(f"{model_dir}/sent_starters.txt"))
    params.collocations = {tuple(l.split("\t")) for l in lines(f"{model_dir}/collocations.tab")}
    ortho = defaultdict(int)
    for l in lines(f"{model_dir}/ortho_context.tab"):
        word, flags = l.split("\t")
        ortho[word] = int(flags)
    params.ortho_context = ortho
    return PunktSentenceTokenizer(params)


def main():
    tokenizer = load(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        for text in json.load(f):
            print(json.dumps([text, tokenizer.tokenize(text)], ensure_ascii=False))


if __name__ == "__main__":
    main()
