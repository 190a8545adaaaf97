"""The rules Recommendation Author.

:mod:`.core` is ``RuleAuthor``; :mod:`.rules` its rule table and policy; :mod:`.evidence` which
references count; :mod:`.prior` what became of earlier recommendations; :mod:`.problems` folds
the proposals into one decision per problem; :mod:`.text` puts them in words.
"""
