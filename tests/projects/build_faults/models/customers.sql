select
    id,
    name
    {%- if env_var('BUILD_FAULTS_DROP_EMAIL', '0') != '1' %},
    email
    {%- endif %}
from {{ ref('raw_customers') }}
{%- if env_var('BUILD_FAULTS_NULL_ID', '0') == '1' %}
union all
select
    null,
    'Nobody'
    {%- if env_var('BUILD_FAULTS_DROP_EMAIL', '0') != '1' %},
    'nobody@example.com'
    {%- endif %}
{%- endif %}
