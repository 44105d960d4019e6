"""What a farmer can do by SMS or USSD: parsing, the router, the commands and the reply texts.

Nothing here knows about HTTP or providers; handlers get a Context and return Replies.
"""
