"""Understanding users: who wrote which review, how reviews feel, and user profiles
with interest tags (``kg sentiment``, ``kg profile``)."""
