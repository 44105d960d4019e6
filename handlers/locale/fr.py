"""French reply texts.

Only GSM-7 letters: é è à ù are in the GSM alphabet, but ç ê â î ô û are not and would
switch the whole SMS to UCS-2 (70 characters instead of 160), so they are avoided.
"""

TEXTS = {
    "help": (
        "Infos marché par SMS. Envoyez AIDE pour cette liste, ARRET pour ne plus rien recevoir, "
        "START pour recevoir de nouveau. Prix et normes à venir."
    ),
    "stopped": "Vous ne recevrez plus de messages. Envoyez START pour les recevoir de nouveau.",
    "started": "Bon retour. Vous recevrez de nouveau nos messages. Envoyez AIDE pour les commandes.",
    "already_started": "Vous recevez déjà nos messages. Envoyez AIDE pour les commandes.",
    "unknown": "Désolé, nous n'avons pas compris. Envoyez AIDE pour la liste des commandes.",
    "stop_alone": "Pour ne plus recevoir de messages, envoyez le seul mot ARRET.",
    "rate_limited": (
        "Vous avez envoyé beaucoup de messages. Nous répondrons de nouveau dans {minutes} "
        "minutes environ."
    ),
    "error": "Désolé, une erreur est survenue chez nous. Merci de réessayer plus tard.",
}
