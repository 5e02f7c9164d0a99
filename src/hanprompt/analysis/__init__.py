"""Korean word analysis: Kiwi morphology, stopwords, word frequency, speech levels, fonts and charts."""
