"""Two tenants on one table: namespaces keep their entries apart completely.

Run (with CASSANDRA_CONTACT_POINTS and CASSANDRA_KEYSPACE set):
    python examples/two_tenants_one_table.py

Both tenants use the same model with the same settings and ask the same question, yet each gets
its own answer: the namespace is part of every entry's partition key, so one tenant never sees
another's entry, and clearing one tenant leaves the others untouched.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from cassandra_llm_cache import CassandraCache, init


class TenantModel(BaseChatModel):
    """Stands in for one shared model: it answers with each tenant's own documents."""

    knowledge: str = ""

    @property
    def _llm_type(self) -> str:
        return "shared-example-model"  # the same model string for every tenant

    def _generate(self, _: list[BaseMessage], *__: Any, **___: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.knowledge))])


def main() -> None:
    init(auto=True)
    table = "example_tenants_cache"
    acme = CassandraCache(table_name=table, namespace="acme")
    globex = CassandraCache(table_name=table, namespace="globex")
    question = "What is our refund policy?"

    acme_model = TenantModel(knowledge="Acme: 30 days, no questions asked.", cache=acme)
    globex_model = TenantModel(knowledge="Globex: store credit only.", cache=globex)
    print("acme   ->", acme_model.invoke(question).content)
    print("globex ->", globex_model.invoke(question).content)

    # Asked again (by models that would now answer differently): each tenant's own entry.
    acme_model.knowledge = globex_model.knowledge = "(the model was not called)"
    assert acme_model.invoke(question).content.startswith("Acme")
    assert globex_model.invoke(question).content.startswith("Globex")

    # Clearing one tenant does not touch the other.
    acme.clear()
    acme_model.knowledge = "Acme: 60 days now."
    print("after clearing acme:")
    print("acme   ->", acme_model.invoke(question).content)
    print("globex ->", globex_model.invoke(question).content)
    assert globex_model.invoke(question).content.startswith("Globex")
    print(f"acme:   {acme.stats()}")
    print(f"globex: {globex.stats()}")
    globex.clear()


if __name__ == "__main__":
    main()
