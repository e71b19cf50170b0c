# EKS access entries of cluster broken, written by aws-auth-migrate from
#   testdata/examples/fleet/broken.yaml (offline plan).
# 0 access entries, 0 policy associations; 0 mappings stay in aws-auth.
# Review it like any change of who may use the cluster. The tool's created-by tag is never written
#   here.
#
# Offline plan, so no imports: EKS makes node, Fargate and cluster-creator entries itself at the
#   switch to API_AND_CONFIG_MAP, and creating them again fails with ResourceInUseException. Switch
#   the mode first, then write this again from the live cluster:
#   aws-auth-migrate migrate --cluster broken --to dual   # or the authentication mode in your IaC
#   aws-auth-migrate plan --cluster broken -o terraform-module
#
# Then, once applied:
#   aws-auth-migrate verify --cluster broken            # parity, recorded for the api gate
#   aws-auth-migrate migrate --cluster broken --to api --confirm broken
# and then say API in the IaC's authentication mode too: EKS refuses any way back, so an apply that
#   still says API_AND_CONFIG_MAP fails.
#
# aws-auth could not be read in full; the mappings of these keys are missing here, as they are for
#   the authenticator today:
#   testdata/examples/fleet/broken.yaml:11:9: `mapRoles` is not valid YAML (while scanning a plain
#     scalar, found a tab): the authenticator loads none of its entries
#
# For the terraform-aws-eks module block `module "eks"`: set access_entries =
#   local.eks_access_entries and enable_cluster_creator_admin_permissions = false (an entry the
#   cluster creator has is declared here like any other). Needs Terraform 1.5 or later (import
#   blocks).

locals {
  eks_access_entries = {}
}
