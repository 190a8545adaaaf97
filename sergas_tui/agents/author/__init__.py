"""The rules Recommendation Author: :mod:`.core` (``RuleAuthor``), its rule table
(:mod:`.rules`), the evidence it accepts (:mod:`.evidence`), what became of earlier
recommendations (:mod:`.prior`), one decision per problem (:mod:`.problems`) and its
words (:mod:`.text`).
"""
