import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from opsdesk.cmdb.models import CIKind, CIStatus, ConfigurationItem, Criticality, Relation, RelationType
from opsdesk.core.generic.filters import ScopedFilterSet
from opsdesk.core.models import Customer, Site, Team


class ConfigurationItemFilterSet(ScopedFilterSet):
    # distinct=False: these are columns of the item itself, so a match cannot repeat a row, and
    # django-filter's default DISTINCT made the 100k-item list 3-6x slower (docs/performance.md).
    # The `q` search uses the registry entry's search_fields (name, description, attribute
    # values, the customer's name and code), the one declaration the global search reads too.
    customer = django_filters.ModelMultipleChoiceFilter(queryset=Customer.objects.all(), label=_("customer"),
                                                        distinct=False)
    kind = django_filters.ModelMultipleChoiceFilter(queryset=CIKind.objects.all(), label=_("kind"), distinct=False)
    site = django_filters.ModelChoiceFilter(queryset=Site.objects.all(), label=_("site"))
    status = django_filters.MultipleChoiceFilter(choices=CIStatus.choices, label=_("status"), distinct=False)
    criticality = django_filters.MultipleChoiceFilter(choices=Criticality.choices, label=_("criticality"),
                                                      distinct=False)
    owner_team = django_filters.ModelChoiceFilter(queryset=Team.objects.all(), label=_("owner team"))
    # ?owner_team__isnull=true: the dashboard's "items without an owner team" (All / Yes / No).
    owner_team__isnull = django_filters.BooleanFilter(field_name="owner_team", lookup_expr="isnull",
                                                      label=_("Without owner team"))

    class Meta:
        model = ConfigurationItem
        fields = ["customer", "kind", "site", "status", "criticality", "owner_team"]


class RelationFilterSet(ScopedFilterSet):
    search_fields = ["source__name", "target__name", "note"]
    customer = django_filters.ModelChoiceFilter(queryset=Customer.objects.all(), label=_("customer"))
    type = django_filters.ChoiceFilter(choices=RelationType.choices, label=_("relation"))
    item = django_filters.NumberFilter(method="filter_item", label=_("configuration item"))

    class Meta:
        model = Relation
        fields = ["customer", "type", "source", "target"]

    def filter_item(self, queryset, name, value: int):
        """Relations from or to one item (by id); scoping has already narrowed the queryset."""
        return queryset.filter(Q(source_id=value) | Q(target_id=value))
